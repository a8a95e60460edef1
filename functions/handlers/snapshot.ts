import { snapshot } from '../steps/snapshot.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Snapshot state. The work lives in steps/snapshot.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Snapshot', snapshot);
