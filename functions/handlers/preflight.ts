import { preflight } from '../steps/preflight.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Preflight state. The work lives in steps/preflight.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Preflight', preflight);
