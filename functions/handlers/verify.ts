import { verify } from '../steps/verify.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Verify state. The work lives in steps/verify.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Verify', verify);
