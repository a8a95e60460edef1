/**
 * Values between this project's SQL and the RDS Data API: parameters out as `SqlParameter`s, result
 * `Field`s back as what `pg` would have returned (so the code above the driver reads one shape),
 * and as binary COPY fields for the readers that decode those.
 */
import type { ArrayValue, ColumnMetadata, Field, SqlParameter } from '@aws-sdk/client-rds-data';
import type { PgBinaryType } from '../pg-binary.js';

/** `2024-05-01 10:00:00.123` in UTC: the form the service's TIMESTAMP hint takes. */
function timestampText(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A PostgreSQL array literal, as pg sends a JavaScript array. */
export function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = v instanceof Date ? v.toISOString() : String(v);
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

/**
 * One positional value as the parameter `p<n>`. Strings reach PostgreSQL typed as varchar (not
 * "unknown", as pg's are), so SQL that needs another type casts explicitly; dates and objects carry
 * the service's own type hints.
 */
export function toSqlParameter(position: number, value: unknown): SqlParameter {
  const name = `p${position}`;
  if (value === null || value === undefined) return { name, value: { isNull: true } };
  if (typeof value === 'string') return { name, value: { stringValue: value } };
  if (typeof value === 'bigint') return { name, value: { stringValue: value.toString() } };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, value: { longValue: value } }
      : { name, value: { doubleValue: value } };
  }
  if (typeof value === 'boolean') return { name, value: { booleanValue: value } };
  if (value instanceof Date)
    return { name, value: { stringValue: timestampText(value) }, typeHint: 'TIMESTAMP' };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { name, value: { blobValue: value } };
  if (Array.isArray(value)) return { name, value: { stringValue: arrayLiteral(value) } };
  return { name, value: { stringValue: JSON.stringify(value) }, typeHint: 'JSON' };
}

/**
 * The service formats timestamps as text without a zone, in the session's zone (UTC unless the
 * cluster sets another); an offset, when present, is honoured. Milliseconds truncated toward zero,
 * as the binary reader does.
 */
export function parseTimestamp(text: string): Date {
  const m =
    /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/.exec(
      text.trim(),
    );
  if (!m) throw new RangeError(`not a timestamp: ${text}`);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os] = m;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  let at = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (sign) {
    const offset = (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * 1000;
    at -= sign === '+' ? offset : -offset;
  }
  return new Date(at);
}

function arrayValues(array: ArrayValue | undefined | null): unknown[] {
  if (!array) return [];
  return (
    array.stringValues ??
    array.longValues ??
    array.doubleValues ??
    array.booleanValues ??
    (array.arrayValues ?? []).map((inner) => arrayValues(inner))
  );
}

/** A result value as pg returns it by default (int8 and numeric as strings, json parsed, dates as Date). */
export function fromField(field: Field, column: ColumnMetadata | undefined): unknown {
  if (field.isNull) return null;
  const type = column?.typeName ?? '';
  if (field.arrayValue) return arrayValues(field.arrayValue);
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue);
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined) return type === 'int8' ? String(field.longValue) : field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  const text = field.stringValue ?? '';
  switch (type) {
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      return parseTimestamp(type === 'date' ? `${text} 00:00:00` : text);
    case 'json':
    case 'jsonb':
      return JSON.parse(text);
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
      return Number(text);
    case 'bool':
      return text === 't' || text === 'true';
    default:
      return text;
  }
}

const BINARY_TYPES: Record<string, PgBinaryType> = {
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  name: 'text',
  json: 'text',
  uuid: 'uuid',
  int4: 'int4',
  int8: 'int8',
  float8: 'float8',
  bool: 'bool',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  jsonb: 'jsonb',
  _text: 'text[]',
  _varchar: 'text[]',
  vector: 'vector',
};

/** The binary COPY type a column of this type name comes out as, for readers that decode COPY fields. */
export function binaryTypeOf(column: ColumnMetadata): PgBinaryType {
  const type = BINARY_TYPES[column.typeName ?? ''];
  if (!type) {
    throw new TypeError(
      `column "${column.name}" is of type ${column.typeName}, which the Data API driver cannot read as a COPY field`,
    );
  }
  return type;
}

/** A value for `encodeField` of the column's binary type. */
export function binaryValueOf(field: Field, column: ColumnMetadata, type: PgBinaryType): unknown {
  if (field.isNull) return null;
  switch (type) {
    case 'int8':
      return BigInt(field.longValue ?? field.stringValue ?? 0);
    case 'vector':
      return JSON.parse(field.stringValue ?? '[]') as number[];
    case 'jsonb':
      return field.stringValue ?? 'null';
    default:
      return fromField(field, column);
  }
}
