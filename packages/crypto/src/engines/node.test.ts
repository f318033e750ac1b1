import { describeEngineContract } from '../engine-suite.ts';
import { nodeEngine } from './node.ts';

describeEngineContract(nodeEngine, { keyFieldsInJs: true });
