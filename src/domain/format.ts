// Shared by the actions' results and the core's thread messages.

/** 1234567 → "1.2 MiB (1234567 bytes)"; small sizes stay in bytes. */
export function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${formatUnits(bytes)} (${bytes} bytes)`;
}

/** 1234567 → "1.2 MiB" (1024 bytes and up: the symbols need no translation). */
export function formatUnits(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit] ?? 'TiB'}`;
}
