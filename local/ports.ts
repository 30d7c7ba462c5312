import { createServer } from 'node:net';

/** Asks the OS for a free TCP port (listen on port 0, read it, close). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a listening socket'));
        return;
      }
      server.close(() => resolvePort(address.port));
    });
  });
}

/** Whether nothing listens on `port` (on any interface, as DynamoDB Local binds 0.0.0.0). */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolveFree, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolveFree(false) : reject(error)));
    server.listen(port, () => server.close(() => resolveFree(true)));
  });
}
