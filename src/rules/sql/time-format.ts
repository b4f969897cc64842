/**
 * The Joda-Time patterns of parse_time / time_to_epoch (the subset users write: y M d H h m s S
 * a E Z z and 'quoted text'), in UTC or an IANA time zone / fixed offset.
 */
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Offset of `zone` from UTC at `epochMs`, in minutes; undefined for an unknown zone. */
export function zoneOffsetMinutes(zone: string, epochMs: number): number | undefined {
  const fixed = /^(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?$/.exec(zone);
  if (zone === 'UTC' || zone === 'GMT' || zone === 'Z') return 0;
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0));
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(epochMs));
    const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
    const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return Math.round((asUtc - Math.floor(epochMs / 1000) * 1000) / 60000);
  } catch {
    return undefined;
  }
}

function tokens(pattern: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      const lit = end < 0 ? pattern.slice(i + 1) : pattern.slice(i + 1, end);
      out.push(`'${lit === '' ? "'" : lit}`);
      i = end < 0 ? pattern.length : end + 1;
      continue;
    }
    let j = i;
    while (j < pattern.length && pattern[j] === c) j++;
    out.push(/[a-zA-Z]/.test(c) ? pattern.slice(i, j) : `'${pattern.slice(i, j)}`);
    i = j;
  }
  return out;
}

const pad = (n: number, w: number): string => String(Math.abs(n)).padStart(w, '0');

/** parse_time(pattern, epochMs[, zone]): the formatted time; undefined for an unknown zone. */
export function formatTime(pattern: string, epochMs: number, zone = 'UTC'): string | undefined {
  const off = zoneOffsetMinutes(zone, epochMs);
  if (off === undefined) return undefined;
  const d = new Date(epochMs + off * 60000);
  let out = '';
  for (const t of tokens(pattern)) {
    if (t.startsWith("'")) {
      out += t.slice(1);
      continue;
    }
    const n = t.length;
    switch (t[0]) {
      case 'y':
      case 'Y':
        out += n === 2 ? pad(d.getUTCFullYear() % 100, 2) : pad(d.getUTCFullYear(), n);
        break;
      case 'M':
        out += n >= 4 ? MONTHS[d.getUTCMonth()] : n === 3 ? MONTHS[d.getUTCMonth()]!.slice(0, 3) : pad(d.getUTCMonth() + 1, n);
        break;
      case 'd':
        out += pad(d.getUTCDate(), n);
        break;
      case 'H':
        out += pad(d.getUTCHours(), n);
        break;
      case 'h':
        out += pad(d.getUTCHours() % 12 || 12, n);
        break;
      case 'm':
        out += pad(d.getUTCMinutes(), n);
        break;
      case 's':
        out += pad(d.getUTCSeconds(), n);
        break;
      case 'S':
        out += pad(d.getUTCMilliseconds(), 3).slice(0, n).padEnd(n, '0');
        break;
      case 'a':
        out += d.getUTCHours() < 12 ? 'AM' : 'PM';
        break;
      case 'E':
        out += n >= 4 ? DAYS[d.getUTCDay()] : DAYS[d.getUTCDay()]!.slice(0, 3);
        break;
      case 'Z': {
        const sign = off < 0 ? '-' : '+';
        const hh = pad(Math.trunc(Math.abs(off) / 60), 2);
        const mm = pad(Math.abs(off) % 60, 2);
        out += off === 0 && n === 1 ? '+0000' : n === 1 ? `${sign}${hh}${mm}` : `${sign}${hh}:${mm}`;
        break;
      }
      case 'z':
        out += zone;
        break;
      default:
        out += t;
    }
  }
  return out;
}

/** time_to_epoch(text, pattern): ms since the epoch, or undefined when the text does not match. */
export function parseTime(text: string, pattern: string): number | undefined {
  let re = '^';
  const fields: string[] = [];
  for (const t of tokens(pattern)) {
    if (t.startsWith("'")) {
      re += t.slice(1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    const c = t[0]!;
    if (c === 'E') {
      re += '[A-Za-z]+';
      continue;
    }
    fields.push(t);
    if (c === 'M' && t.length >= 3) re += '([A-Za-z]+)';
    else if (c === 'a') re += '(AM|PM|am|pm)';
    else if (c === 'Z') re += '(Z|[+-]\\d{2}:?\\d{2})';
    else if (c === 'z') re += '([A-Za-z0-9_/+:-]+)';
    else re += t.length > 1 && c !== 'y' ? `(\\d{${t.length}})` : '(\\d+)';
  }
  const m = new RegExp(re + '$').exec(text);
  if (!m) return undefined;
  let y = 1970, mo = 0, d = 1, h = 0, mi = 0, s = 0, ms = 0, pm: boolean | null = null, off = 0;
  fields.forEach((f, i) => {
    const v = m[i + 1]!;
    switch (f[0]) {
      case 'y': case 'Y': y = f.length === 2 ? 2000 + Number(v) : Number(v); break;
      case 'M': mo = f.length >= 3 ? MONTHS.findIndex((x) => x.toLowerCase().startsWith(v.toLowerCase().slice(0, 3))) : Number(v) - 1; break;
      case 'd': d = Number(v); break;
      case 'H': h = Number(v); break;
      case 'h': h = Number(v) % 12; break;
      case 'm': mi = Number(v); break;
      case 's': s = Number(v); break;
      case 'S': ms = Math.round(Number(`0.${v}`) * 1000); break;
      case 'a': pm = v.toUpperCase() === 'PM'; break;
      case 'Z': off = v === 'Z' ? 0 : zoneOffsetMinutes(v, 0) ?? 0; break;
      case 'z': off = zoneOffsetMinutes(v, Date.UTC(y, mo, d)) ?? 0; break;
    }
  });
  if (pm === true) h += 12;
  if (mo < 0) return undefined;
  return Date.UTC(y, mo, d, h, mi, s, ms) - off * 60000;
}
