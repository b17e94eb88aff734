import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { connect } from 'cloudflare:sockets';

type Socket = ReturnType<typeof connect>;

/**
 * The socket postgres.js talks through in workerd (its `socket` option), over cloudflare:sockets. postgres.js's own
 * workerd socket re-emits the read loop's failure once the connection has closed, when postgres.js has already
 * removed its listeners: every closed connection then surfaces as an unhandled "This socket has been closed." (or
 * "Stream was cancelled."). Here a failure after we closed the socket ourselves is the expected end of the read
 * loop and is not reported; any other failure goes to postgres.js as before.
 */
class WorkerSocket extends EventEmitter {
  readyState: 'open' | 'closed' = 'open';
  private closing = false;
  private readonly raw: Socket;
  private readonly writer: WritableStreamDefaultWriter<unknown>;

  constructor(hostname: string, port: number) {
    super();
    this.raw = connect({ hostname, port });
    this.writer = this.raw.writable.getWriter();
    this.raw.closed.then(
      () => this.finish(),
      (error: unknown) => this.fail(error),
    );
    void this.read();
  }

  private async read(): Promise<void> {
    const reader: ReadableStreamDefaultReader<unknown> = this.raw.readable.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        // A socket's readable stream yields bytes.
        this.emit('data', Buffer.from(value as Uint8Array));
      }
    } catch (error) {
      this.fail(error);
    }
    this.finish();
  }

  write(data: Uint8Array, callback?: () => void): boolean {
    this.writer.write(data).then(
      () => callback?.(),
      (error: unknown) => this.fail(error),
    );
    return true;
  }

  /** Sends `data` (postgres.js's Terminate message) and closes. */
  end(data?: Uint8Array): void {
    this.closing = true;
    const close = () => this.raw.close().catch((error: unknown) => this.fail(error));
    if (data) this.writer.write(data).then(close, close);
    else void close();
  }

  destroy(): void {
    this.end();
  }

  private fail(error: unknown): void {
    if (this.closing || this.readyState === 'closed') return;
    this.emit('error', error);
    this.finish();
  }

  private finish(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.emit('close');
  }
}

/** postgres.js's `socket` option: a connected socket to the first host (Hyperdrive gives one). */
export function workerSocket(options: { host: string[]; port: number[] }): WorkerSocket {
  return new WorkerSocket(options.host[0] ?? 'localhost', options.port[0] ?? 5432);
}

declare module 'postgres' {
  // postgres.js takes a `socket` factory (its README, "Custom socket"), which its types do not declare.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- a merged declaration repeats the type parameters
  interface Options<T extends Record<string, PostgresType>> {
    socket?: (options: { host: string[]; port: number[] }) => WorkerSocket;
  }
}
