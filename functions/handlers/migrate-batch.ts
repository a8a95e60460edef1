import { migrateBatch } from '../steps/migrate-batch.js';
import { lambdaHandler } from './lambda-handler.js';

/** The MigrateBatch state. The work lives in steps/migrate-batch.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('MigrateBatch', migrateBatch);
