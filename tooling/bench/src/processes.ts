/** Child processes of a bench run, and a request / reply channel over their IPC. */
import { ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function scriptPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** Forks `script` with advanced serialization; resolves once it says 'ready'. */
export async function start(script: string, args: string[] = []): Promise<ChildProcess> {
  const child = fork(scriptPath(script), args, { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`${script} exited (${code ?? signal}) before it was ready`)));
    child.once('message', (message) => (message === 'ready' ? resolve() : reject(new Error(`${script}: ${String(message)}`))));
  });
  child.removeAllListeners('exit');
  return child;
}

/** The child's next message; a message with `error` rejects. */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (reply: any) => (reply && reply.error ? reject(new Error(reply.error)) : resolve(reply as T)));
  });
}

/** Sends `message` and resolves with the child's next message. */
export function request<T>(child: ChildProcess, message: unknown): Promise<T> {
  const reply = nextMessage<T>(child);
  child.send(message as any);
  return reply;
}

/** Ends a child started with start() and waits for it to go. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.disconnect();
  await exited;
}
