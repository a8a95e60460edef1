import { rebuildCmi } from '../steps/rebuild-cmi.js';
import { lambdaHandler } from './lambda-handler.js';

/** The RebuildCmi state. The work lives in steps/rebuild-cmi.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('RebuildCmi', rebuildCmi);
