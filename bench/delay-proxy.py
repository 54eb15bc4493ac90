#!/usr/bin/env python3
"""A TCP proxy that adds a fixed latency to every request, as a remote store would.

    bench/delay-proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY_MS

Bytes from the client are forwarded DELAY_MS after they arrived (a queue per connection, so a
request split over several reads is delayed once, not once per read); replies pass straight
through. Both commands of a benchmark go through the same proxy, so its own cost is shared.
"""
import asyncio
import sys


async def pump_delayed(reader, writer, delay):
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def forward():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.write_eof() if writer.can_write_eof() else writer.close()

    task = asyncio.create_task(forward())
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    finally:
        queue.put_nowait((0, None))
        await task


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def main():
    listen, host, port, delay_ms = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])

    async def handle(client_r, client_w):
        try:
            up_r, up_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(pump_delayed(client_r, up_w, delay_ms / 1000), pump(up_r, client_w))
        except (ConnectionError, OSError):
            pass
        finally:
            client_w.close()
            up_w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=512)
    async with server:
        await server.serve_forever()


asyncio.run(main())
