// The few Web-standard globals src/ uses; every JavaScript runtime we target (workerd, Node >= 22) has them.
// Declared here, rather than pulling in DOM or runtime typings, so nothing platform-specific type-checks in src/.
declare const crypto: {
  readonly subtle: {
    importKey(
      format: 'raw',
      keyData: Uint8Array,
      algorithm: { name: 'HMAC'; hash: 'SHA-256' },
      extractable: boolean,
      keyUsages: ['sign'],
    ): Promise<CryptoKey>;
    importKey(
      format: 'raw',
      keyData: Uint8Array,
      algorithm: 'PBKDF2',
      extractable: false,
      keyUsages: ['deriveBits'],
    ): Promise<CryptoKey>;
    sign(algorithm: 'HMAC', key: CryptoKey, data: Uint8Array): Promise<ArrayBuffer>;
    digest(algorithm: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
    deriveBits(
      algorithm: { name: 'PBKDF2'; hash: 'SHA-256'; salt: Uint8Array; iterations: number },
      baseKey: CryptoKey,
      length: number,
    ): Promise<ArrayBuffer>;
  };
  getRandomValues<T extends Uint8Array>(array: T): T;
};
interface CryptoKey {
  readonly type: string;
}
declare class TextEncoder {
  encode(input: string): Uint8Array;
}
declare class TextDecoder {
  decode(input: Uint8Array): string;
}
declare function btoa(data: string): string;
declare function atob(data: string): string;
declare function setTimeout(callback: () => void, ms: number): unknown;
declare class URLSearchParams {
  set(name: string, value: string): void;
  delete(name: string): void;
}
declare class URL {
  constructor(url: string, base?: string);
  readonly host: string;
  readonly hash: string;
  readonly protocol: string;
  readonly searchParams: URLSearchParams;
  toString(): string;
}
