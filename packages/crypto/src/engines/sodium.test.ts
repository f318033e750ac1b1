import { describeEngineContract } from '../engine-suite.ts';
import { sodiumEngine } from './sodium.ts';

describeEngineContract(sodiumEngine, { keyFieldsInJs: true });
