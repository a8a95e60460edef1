import { verifySearch } from '../steps/verify-search.js';
import { lambdaHandler } from './lambda-handler.js';

/** The VerifySearch state. The work lives in steps/verify-search.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('VerifySearch', verifySearch);
