import { report } from '../steps/report.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Report state. The work lives in steps/report.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Report', report);
