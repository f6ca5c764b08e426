import { nanoid } from "nanoid";

/** 32 characters of the URL-safe alphabet: about 192 bits, unguessable. */
export const TOKEN_LENGTH = 32;

export type MintToken = () => string;

/**
 * Redrawn when it starts with "-", so an operator can pass any token to a
 * command line (`up-gateway-admin show -abc...` would read as options). The
 * redraw keeps the choice uniform over the rest: 191.9 bits.
 */
export const mintToken: MintToken = () => {
  let token = nanoid(TOKEN_LENGTH);
  while (token.charCodeAt(0) === 45) token = nanoid(TOKEN_LENGTH);
  return token;
};

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
export const isTokenShaped = (s: string): boolean => TOKEN_PATTERN.test(s);

/** 22 characters of the URL-safe alphabet: 132 bits, so the Location of a 201 cannot be guessed (whoever holds it may cancel). */
export const MESSAGE_ID_LENGTH = 22;
export const mintMessageId = (): string => nanoid(MESSAGE_ID_LENGTH);
const MESSAGE_ID_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${MESSAGE_ID_LENGTH}}$`);
export const isMessageIdShaped = (s: string): boolean => MESSAGE_ID_PATTERN.test(s);
