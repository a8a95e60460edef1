import { migrateRelationships } from '../steps/migrate-relationships.js';
import { lambdaHandler } from './lambda-handler.js';

/** The MigrateRelationships state. The work lives in steps/migrate-relationships.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('MigrateRelationships', migrateRelationships);
