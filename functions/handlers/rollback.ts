import { rollback } from '../steps/rollback.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Rollback state. The work lives in steps/rollback.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Rollback', rollback);
