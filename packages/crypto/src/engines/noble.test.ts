import { describeEngineContract } from '../engine-suite.ts';
import { nobleEngine } from './noble.ts';

describeEngineContract(nobleEngine, { keyFieldsInJs: true });
