/**
 * The two things the Data API driver must know about SQL text: where one statement ends (the
 * service runs one statement per call, and our transaction openers send several) and where pg's
 * `$n` placeholders are (the service names its parameters `:name`). Both must skip string
 * literals, quoted identifiers, dollar-quoted bodies and comments, so one small scanner serves both.
 */

type Piece = { kind: 'code' | 'quoted'; text: string };

/** Splits SQL into code and quoted/commented pieces; only code pieces hold `;` and placeholders. */
function scan(sql: string): Piece[] {
  const pieces: Piece[] = [];
  let code = '';
  let i = 0;
  const flush = () => {
    if (code) pieces.push({ kind: 'code', text: code });
    code = '';
  };
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    let end = -1;
    if (c === "'" || c === '"') {
      // A doubled quote inside is an escaped quote, not the end.
      end = i + 1;
      for (;;) {
        end = sql.indexOf(c, end);
        if (end === -1 || sql[end + 1] !== c) break;
        end += 2;
      }
      end = end === -1 ? sql.length : end + 1;
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      end = nl === -1 ? sql.length : nl;
    } else if (c === '/' && next === '*') {
      const close = sql.indexOf('*/', i + 2);
      end = close === -1 ? sql.length : close + 2;
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close === -1 ? sql.length : close + tag[0].length;
      }
    }
    if (end === -1) {
      code += c;
      i += 1;
      continue;
    }
    flush();
    pieces.push({ kind: 'quoted', text: sql.slice(i, end) });
    i = end;
  }
  flush();
  return pieces;
}

/** The statements of a multi-statement string, trimmed, empty ones dropped. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  for (const piece of scan(sql)) {
    if (piece.kind === 'quoted') {
      current += piece.text;
      continue;
    }
    const parts = piece.text.split(';');
    current += parts[0];
    for (const part of parts.slice(1)) {
      statements.push(current);
      current = part;
    }
  }
  statements.push(current);
  return statements.map((s) => s.trim()).filter((s) => s !== '');
}

/** pg's `$1…$n` as the Data API's `:p1…:pn`; the numbers are kept, so values map one to one. */
export function namedPlaceholders(sql: string): string {
  return scan(sql)
    .map((piece) => (piece.kind === 'code' ? piece.text.replace(/\$(\d+)/g, ':p$1') : piece.text))
    .join('');
}
