import pg from 'pg';

/**
 * node-postgres's quoting of a value as an SQL string literal, for the statements that cannot take
 * parameters (the query inside a COPY): both adapters send the same SQL text.
 */
export const escapeLiteral: (text: string) => string = pg.escapeLiteral;
