import { users } from '../steps/users.js';
import { lambdaHandler } from './lambda-handler.js';

/** The Users state. The work lives in steps/users.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('Users', users);
