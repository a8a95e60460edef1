/** The modules the generator writes memories for: the guide's six, as a literal type for its tables. */
export const MODULE_IDS = ['work', 'personal', 'technical', 'learning', 'communication', 'creative'] as const;
export type ModuleId = (typeof MODULE_IDS)[number];

/** BigMemory's embedding size, which the generator's vectors have. */
export const SOURCE_EMBEDDING_DIMENSIONS = 1536;
