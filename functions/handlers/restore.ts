import { restore } from '../steps/restore.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Restore state. The work lives in steps/restore.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Restore', restore);
