import { nanoid } from "nanoid";

/** 32 characters of the URL-safe alphabet: 32 × 6 = 192 bits, unguessable. */
export const TOKEN_LENGTH = 32;

export type MintToken = () => string;
export const mintToken: MintToken = () => nanoid(TOKEN_LENGTH);

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
export const isTokenShaped = (s: string): boolean => TOKEN_PATTERN.test(s);
