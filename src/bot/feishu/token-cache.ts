/**
 * The SDK's token cache, one per client. The SDK's default cache is shared by every client in
 * the process and keeps a tenant access token until it expires, even after Feishu said it is
 * invalid; this one is the platform's own and is cleared when that happens, so the next call
 * fetches a new token.
 */
// The SDK's Cache interface names its keys `string | Symbol` (the wrapper type).
// eslint-disable-next-line @typescript-eslint/no-wrapper-object-types
type Key = string | Symbol;

export class TokenCache {
  private readonly values = new Map<string, { value: unknown; expire: number | undefined }>();

  set = (key: Key, value: unknown, expire?: number, options?: { namespace?: string }): Promise<boolean> => {
    this.values.set(this.key(key, options), { value, expire });
    return Promise.resolve(true);
  };

  get = (key: Key, options?: { namespace?: string }): Promise<unknown> => {
    const entry = this.values.get(this.key(key, options));
    // The SDK stores an absolute expiry time in ms.
    if (!entry || (entry.expire !== undefined && entry.expire <= Date.now())) return Promise.resolve(undefined);
    return Promise.resolve(entry.value);
  };

  clear(): void {
    this.values.clear();
  }

  private key(key: Key, options?: { namespace?: string }): string {
    return `${options?.namespace ?? ''}\u0000${String(key)}`;
  }
}
