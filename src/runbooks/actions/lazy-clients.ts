import type * as Execa from 'execa';
import type * as Undici from 'undici';

/**
 * The process and HTTP clients, loaded on first use. Only running a step (or a silence) needs
 * them, and loading them is about 0.2 s, a fifth of start-up; after the first use they are cached.
 */
let execaModule: Promise<typeof Execa> | undefined;
let undiciModule: Promise<typeof Undici> | undefined;

export function loadExeca(): Promise<typeof Execa> {
  return (execaModule ??= import('execa'));
}

export function loadUndici(): Promise<typeof Undici> {
  return (undiciModule ??= import('undici'));
}
