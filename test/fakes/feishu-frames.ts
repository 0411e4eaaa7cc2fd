/**
 * The frames of Feishu's long connection: protobuf messages `pbbp2.Frame` (SeqID = 1, LogID = 2,
 * service = 3, method = 4 — 0 control, 1 data —, headers = 5 as repeated {key = 1, value = 2},
 * payloadEncoding = 6, payloadType = 7, payload = 8, LogIDNew = 9). Written out here, apart from
 * the SDK's own codec, so that the fake checks the SDK against the wire format.
 */
export interface Frame {
  SeqID: number;
  LogID: number;
  service: number;
  method: number;
  headers: Array<{ key: string; value: string }>;
  payload?: Buffer | undefined;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

const field = (no: number, type: number) => varint(no * 8 + type);
const bytesField = (no: number, data: Buffer) => Buffer.concat([Buffer.from([...field(no, 2), ...varint(data.length)]), data]);

export function encodeFrame(f: Frame): Buffer {
  const parts: Buffer[] = [
    Buffer.from([...field(1, 0), ...varint(f.SeqID), ...field(2, 0), ...varint(f.LogID), ...field(3, 0), ...varint(f.service), ...field(4, 0), ...varint(f.method)]),
  ];
  for (const h of f.headers) parts.push(bytesField(5, Buffer.concat([bytesField(1, Buffer.from(h.key)), bytesField(2, Buffer.from(h.value))])));
  if (f.payload) parts.push(bytesField(8, f.payload));
  return Buffer.concat(parts);
}

/** Each field of a message: number → list of varints or byte strings (other wire types skipped). */
function fields(buf: Buffer): Map<number, Array<number | Buffer>> {
  const out = new Map<number, Array<number | Buffer>>();
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated frame');
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
  };
  while (pos < buf.length) {
    const tag = readVarint();
    const no = Math.floor(tag / 8);
    const type = tag % 8;
    let value: number | Buffer | undefined;
    if (type === 0) value = readVarint();
    else if (type === 2) {
      const len = readVarint();
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (type === 1) pos += 8;
    else if (type === 5) pos += 4;
    else throw new Error(`unsupported wire type ${type}`);
    if (value !== undefined) out.set(no, [...(out.get(no) ?? []), value]);
  }
  return out;
}

export function decodeFrame(buf: Buffer): Frame {
  const f = fields(buf);
  const num = (no: number) => Number(f.get(no)?.[0] ?? 0);
  const headers = (f.get(5) ?? []).map((h) => {
    const hf = fields(h as Buffer);
    return { key: String(hf.get(1)?.[0] ?? ''), value: String(hf.get(2)?.[0] ?? '') };
  });
  const payload = f.get(8)?.[0];
  return { SeqID: num(1), LogID: num(2), service: num(3), method: num(4), headers, payload: Buffer.isBuffer(payload) ? payload : undefined };
}

export const header = (f: Frame, key: string): string | undefined => f.headers.find((h) => h.key === key)?.value;
