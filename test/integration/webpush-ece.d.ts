// http_ece ships no types: the part of its API the WebPush tests use (RFC 8188 / 8291 decryption).
declare module "http_ece" {
  import type { ECDH } from "node:crypto";

  export interface EceParams {
    version?: "aes128gcm" | "aesgcm";
    /** The receiver's key pair (the subscription's p256dh). */
    privateKey?: ECDH;
    /** aesgcm only: the sender's public key (Crypto-Key dh=). aes128gcm carries it in the body. */
    dh?: string | Buffer;
    /** aesgcm only: Encryption salt=. */
    salt?: string | Buffer;
    authSecret?: string | Buffer;
    rs?: number;
  }

  const ece: {
    decrypt(buffer: Buffer, params: EceParams): Buffer;
    encrypt(buffer: Buffer, params: EceParams): Buffer;
  };
  export default ece;
}
