#!/usr/bin/env python3
"""The loopback ceiling: a minimal HTTP/1.1 server that answers every GET with one file,
sent with sendfile(2) (zero copy), as fast as this machine can move bytes over 127.0.0.1.

usage: sendfile_server.py PORT FILE   (serves until killed; one connection at a time)
"""
import os
import socket
import sys


def main(port, path):
    size = os.path.getsize(path)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        with c, open(path, "rb") as f:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(4096)
                    if not d:
                        break
                    buf += d
                if b"\r\n\r\n" not in buf:
                    break
                _, buf = buf.split(b"\r\n\r\n", 1)
                c.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n".encode())
                off = 0
                while off < size:
                    n = os.sendfile(c.fileno(), f.fileno(), off, min(size - off, 1 << 20))
                    if n <= 0:
                        break
                    off += n


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
