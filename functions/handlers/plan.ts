import { plan } from '../steps/plan.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Plan state. The work lives in steps/plan.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Plan', plan);
