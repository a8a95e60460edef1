import { embeddingBatches } from '../steps/embedding-batches.js';
import { lambdaHandler } from './lambda-handler.js';

/** The EmbeddingBatches state and its poll. The work lives in steps/embedding-batches.ts; this only adds the Lambda shell. */
export const handler = lambdaHandler('EmbeddingBatches', embeddingBatches);
