import { describe, expect, it } from 'vitest';
import {
  arrayLiteral,
  binaryTypeOf,
  fromField,
  parseTimestamp,
  toSqlParameter,
} from '../../functions/db/data-api/data-api-values.js';
import { namedPlaceholders, splitStatements } from '../../functions/db/data-api/sql-text.js';

describe('Data API SQL text', () => {
  it('splits statements at semicolons outside strings, identifiers, dollar quotes and comments', () => {
    const sql = `BEGIN; SET LOCAL x = 'a;b'; CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
      SELECT "odd;name" FROM t -- trailing; comment
      ; /* a; b */ SELECT 2;`;
    expect(splitStatements(sql)).toEqual([
      'BEGIN',
      "SET LOCAL x = 'a;b'",
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
      'SELECT "odd;name" FROM t -- trailing; comment',
      '/* a; b */ SELECT 2',
    ]);
  });

  it("names pg's placeholders and leaves casts, strings and dollar quotes alone", () => {
    expect(namedPlaceholders(`SELECT $1::text[], '$2', $$ $3 $$, x FROM t WHERE a = $10 AND b = $1`)).toBe(
      `SELECT :p1::text[], '$2', $$ $3 $$, x FROM t WHERE a = :p10 AND b = :p1`,
    );
  });
});

describe('Data API values', () => {
  it('sends JavaScript values as typed parameters', () => {
    expect(toSqlParameter(1, null)).toEqual({ name: 'p1', value: { isNull: true } });
    expect(toSqlParameter(2, 'a')).toEqual({ name: 'p2', value: { stringValue: 'a' } });
    expect(toSqlParameter(3, 7)).toEqual({ name: 'p3', value: { longValue: 7 } });
    expect(toSqlParameter(4, 0.5)).toEqual({ name: 'p4', value: { doubleValue: 0.5 } });
    expect(toSqlParameter(5, new Date('2024-05-01T10:00:00.123Z'))).toEqual({
      name: 'p5',
      value: { stringValue: '2024-05-01 10:00:00.123' },
      typeHint: 'TIMESTAMP',
    });
    expect(toSqlParameter(6, ['a', 'b"c', null])).toEqual({
      name: 'p6',
      value: { stringValue: '{"a","b\\"c",NULL}' },
    });
    expect(toSqlParameter(7, { k: 1 })).toEqual({
      name: 'p7',
      value: { stringValue: '{"k":1}' },
      typeHint: 'JSON',
    });
  });

  it('reads result fields as pg would return them', () => {
    expect(fromField({ longValue: 5 }, { typeName: 'int8' })).toBe('5');
    expect(fromField({ longValue: 5 }, { typeName: 'int4' })).toBe(5);
    expect(fromField({ stringValue: '{"a":[1]}' }, { typeName: 'jsonb' })).toEqual({ a: [1] });
    expect(fromField({ stringValue: '2024-05-01 10:00:00.123456' }, { typeName: 'timestamptz' })).toEqual(
      new Date('2024-05-01T10:00:00.123Z'),
    );
    expect(fromField({ arrayValue: { stringValues: ['x', 'y'] } }, { typeName: '_text' })).toEqual([
      'x',
      'y',
    ]);
    expect(fromField({ isNull: true }, { typeName: 'text' })).toBeNull();
  });

  it('parses timestamps with and without an offset, truncating to the millisecond', () => {
    expect(parseTimestamp('2024-05-01 10:00:00.9999+02').toISOString()).toBe('2024-05-01T08:00:00.999Z');
    expect(parseTimestamp('2024-05-01 10:00:00').toISOString()).toBe('2024-05-01T10:00:00.000Z');
    expect(() => parseTimestamp('yesterday')).toThrow(/not a timestamp/);
  });

  it('names the column whose type cannot travel as a COPY field', () => {
    expect(binaryTypeOf({ name: 'e', typeName: 'vector' })).toBe('vector');
    expect(() => binaryTypeOf({ name: 'p', typeName: 'point' })).toThrow(/column "p" is of type point/);
    expect(arrayLiteral([['a'], ['b']])).toBe('{{"a"},{"b"}}');
  });
});
