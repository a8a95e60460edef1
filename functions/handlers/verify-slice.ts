import { verifySlice } from '../steps/verify-slice.js';
import { lambdaHandler } from './lambda-handler.js';

/** The VerifySlice task of the VerifySlices Map. The work lives in steps/verify-slice.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('VerifySlice', verifySlice);
