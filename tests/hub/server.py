#!/usr/bin/env python3
"""Loopback imitation of the Hugging Face Hub, its CDN and the dataset viewer.

usage: server.py ROOT STATE_DIR

ROOT holds aliases.json (optional: legacy id -> OWNER/NAME redirects),
repos/{models,datasets}/OWNER/NAME/... (the files of each repo at
"main") and viewer/OWNER/NAME/CONFIG/SPLIT.jsonl (dataset viewer rows).
Two servers listen on 127.0.0.1 with ports chosen by the kernel: the Hub and
a "CDN" (another port, so another origin).  STATE_DIR/ports gets
"HUB_PORT CDN_PORT"; every request is appended to STATE_DIR/log as
"hub|cdn METHOD PATH range=R auth=yes|no"; STATE_DIR/mode (read on each
request; counters reset when it changes) selects a misbehaviour:
  cut            the first CDN GET sends half its bytes and hangs up
  corrupt        blobs are served with one byte changed
  fail N CODE    the first N requests answer HTTP CODE
  badetag        HEAD answers carry the ETag "../../evil"
  nocommit       HEAD answers lack X-Repo-Commit
  hugeheader     answers carry a 100 KB header
  slow           Hub HEAD requests wait 2 s before answering
  nosize         no Content-Length nor X-Linked-Size; bodies sent chunked
  endless        as nosize, and each body goes on with zeros until the
                 client hangs up
/api/{models,datasets}/REPO/tree/REV[/FOLDER] lists a folder's files
(path, size, and lfs.size for LFS files), as the Hub does.
Python standard library only.  The server exits by itself after 300 s.
"""
import hashlib
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "hf_fake_secret_token_1234"
PRIVATE = {"org/private"}
GATED = {"org/gated"}
ALIASES = {"legacy-tiny": "org/tiny"}
LFS_SUFFIXES = (".safetensors", ".bin")
EXTRA_REVS = ("refs/pr/1", "v1.0")

ROOT, STATE = sys.argv[1], sys.argv[2]
# ROOT/aliases.json adds legacy ids ({"distilgpt2": "distilbert/distilgpt2"}).
if os.path.exists(os.path.join(ROOT, "aliases.json")):
    with open(os.path.join(ROOT, "aliases.json")) as fp:
        ALIASES.update(json.load(fp))
LOCK = threading.Lock()
MODE = {"text": "", "count": 0}


def load_repos():
    repos = {}
    for kind in ("models", "datasets"):
        base = os.path.join(ROOT, "repos", kind)
        if not os.path.isdir(base):
            continue
        for owner in sorted(os.listdir(base)):
            for name in sorted(os.listdir(os.path.join(base, owner))):
                top = os.path.join(base, owner, name)
                files = {}
                for d, _, fs in os.walk(top):
                    for f in fs:
                        p = os.path.join(d, f)
                        with open(p, "rb") as fp:
                            files[os.path.relpath(p, top)] = fp.read()
                h = hashlib.sha1(f"{kind}/{owner}/{name}".encode())
                for k in sorted(files):
                    h.update(k.encode() + hashlib.sha256(files[k]).digest())
                rid = ("datasets/" if kind == "datasets" else "") + f"{owner}/{name}"
                repos[rid] = {"commit": h.hexdigest(), "files": files}
    return repos


REPOS = load_repos()
BLOBS = {}
for _r in REPOS.values():
    for _n, _c in _r["files"].items():
        BLOBS[hashlib.sha256(_c).hexdigest()] = _c


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def mode():
    try:
        with open(os.path.join(STATE, "mode")) as fp:
            text = fp.read().strip()
    except OSError:
        text = ""
    with LOCK:
        if text != MODE["text"]:
            MODE["text"], MODE["count"] = text, 0
        return text.split()


def bump():
    with LOCK:
        MODE["count"] += 1
        return MODE["count"] - 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakehub/1"
    kind = "hub"

    def log_message(self, *args):
        pass

    def log(self):
        auth = self.headers.get("Authorization")
        with LOCK, open(os.path.join(STATE, "log"), "a") as fp:
            fp.write("%s %s %s range=%s auth=%s\n" % (
                self.kind, self.command, self.path,
                self.headers.get("Range", "-"),
                "yes" if auth == "Bearer " + TOKEN else ("bad" if auth else "no")))

    def reply(self, code, headers=(), body=b""):
        self.send_response(code)
        m = mode()
        if m and m[0] == "hugeheader":
            self.send_header("X-Padding", "x" * 100000)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json_reply(self, code, obj, headers=()):
        self.reply(code, [("Content-Type", "application/json")] + list(headers),
                   json.dumps(obj).encode())

    def hub_error(self, code, err, msg, extra=()):
        self.reply(code, [("X-Error-Code", err), ("X-Error-Message", msg)] + list(extra),
                   json.dumps({"error": msg}).encode())

    def send_content(self, data, headers):
        """200 or 206 (Range), honouring the cut and corrupt modes."""
        m = mode()
        if m and m[0] == "corrupt":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = 0
        rng = self.headers.get("Range")
        if rng:
            if not rng.startswith("bytes=") or not rng.endswith("-"):
                return self.reply(416, headers)
            start = int(rng[6:-1])
            if start >= len(data):
                return self.reply(416, headers + [("Content-Range", "bytes */%d" % len(data))])
        part = data[start:]
        if m and m[0] in ("nosize", "endless") and not rng:
            return self.send_chunked(part, headers, m[0] == "endless")
        self.send_response(206 if rng else 200)
        if m and m[0] == "hugeheader":
            self.send_header("X-Padding", "x" * 100000)
        for k, v in headers:
            self.send_header(k, v)
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if m and m[0] == "cut" and self.kind == "cdn" and self.command == "GET" and bump() == 0:
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(part)

    def send_chunked(self, data, headers, endless):
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Connection", "close")
            self.close_connection = True
            return self.end_headers()
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = lambda b: self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        if data:
            chunk(data)
        while endless:
            chunk(bytes(65536))
        self.wfile.write(b"0\r\n\r\n")

    def tree(self, path):
        kind, _, rest = path[len("/api/"):].partition("/")
        parts = rest.split("/")
        if "/tree/" not in path or len(parts) < 4 or kind not in ("models", "datasets"):
            return self.hub_error(404, "NotFound", "no such endpoint")
        repo = ("datasets/" if kind == "datasets" else "") + "/".join(parts[:2])
        folder = urllib.parse.unquote("/".join(parts[4:]))
        if repo not in REPOS:
            return self.hub_error(404, "RepoNotFound", "Repository not found")
        out = []
        for name, data in sorted(REPOS[repo]["files"].items()):
            if os.path.dirname(name) != folder:
                continue
            e = {"type": "file", "path": name, "size": len(data)}
            if name.endswith(LFS_SUFFIXES):
                e["size"] = 134
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}
            out.append(e)
        self.json_reply(200, out)

    def failing(self):
        m = mode()
        if m and m[0] == "fail" and bump() < int(m[1]):
            self.reply(int(m[2]), [("Retry-After", "0")], b"busy")
            return True
        return False

    def do_HEAD(self):
        m = mode()
        if m and m[0] == "slow" and self.kind == "hub":
            threading.Event().wait(2)
        self.do_GET()

    def do_GET(self):
        self.log()
        if self.failing():
            return
        try:
            if self.kind == "cdn":
                return self.cdn()
            path, _, query = self.path.partition("?")
            if path == "/splits":
                return self.splits(urllib.parse.parse_qs(query))
            if path == "/rows":
                return self.rows(urllib.parse.parse_qs(query))
            if path.startswith("/api/"):
                return self.tree(path)
            if "/resolve/" in path:
                return self.resolve(path)
            self.hub_error(404, "NotFound", "no such endpoint")
        except ConnectionError:
            pass

    def cdn(self):
        path = self.path.partition("?")[0]
        sha = path.rsplit("/", 1)[-1]
        if not path.startswith("/blobs/") or sha not in BLOBS:
            return self.reply(404)
        self.send_content(BLOBS[sha], [("ETag", '"%s"' % sha)])

    def resolve(self, path):
        left, _, right = path.partition("/resolve/")
        repo = left.lstrip("/")
        rawrev, _, rawfile = right.partition("/")
        if repo in ALIASES:
            return self.reply(307, [("Location", "/%s/resolve/%s" % (ALIASES[repo], right))])
        if repo not in REPOS:
            return self.hub_error(404, "RepoNotFound", "Repository not found")
        r = REPOS[repo]
        bare = repo[len("datasets/"):] if repo.startswith("datasets/") else repo
        if bare in PRIVATE and self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.hub_error(401, "RepoNotFound", "Invalid username or password.")
        if bare in GATED and self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.hub_error(401, "GatedRepo", "Access to model %s is restricted." % bare)
        rev = urllib.parse.unquote(rawrev)
        if rev not in ("main", r["commit"]) + EXTRA_REVS:
            return self.hub_error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        name = urllib.parse.unquote(rawfile)
        commit = [("X-Repo-Commit", r["commit"])]
        m = mode()
        if m and m[0] == "nocommit":
            commit = []
        if name not in r["files"]:
            return self.hub_error(404, "EntryNotFound", "Entry not found", commit)
        data = r["files"][name]
        if m and m[0] == "badetag" and self.command == "HEAD":
            return self.reply(200, commit + [("ETag", '"../../evil"')])
        if name.endswith(LFS_SUFFIXES):
            sha = hashlib.sha256(data).hexdigest()
            loc = "http://127.0.0.1:%d/blobs/%s?sig=abc" % (CDN_PORT, sha)
            size = [] if m and m[0] in ("nosize", "endless") else [("X-Linked-Size", str(len(data)))]
            return self.reply(302, commit + [
                ("Location", loc), ("X-Linked-Etag", '"%s"' % sha)] + size +
                [("ETag", 'W/"%s"' % git_sha1(b"lfs"))])
        self.send_content(data, commit + [("ETag", '"%s"' % git_sha1(data))])

    def viewer_rows(self, q, need_split=True):
        ds = q.get("dataset", [""])[0]
        top = os.path.join(ROOT, "viewer", ds)
        if "/" not in ds or ".." in ds or not os.path.isdir(top):
            self.json_reply(404, {"error": "The dataset does not exist on the Hub."},
                            [("X-Error-Code", "DatasetNotFoundError")])
            return None
        return top

    def splits(self, q):
        top = self.viewer_rows(q)
        if top is None:
            return
        out = []
        for config in sorted(os.listdir(top)):
            for f in sorted(os.listdir(os.path.join(top, config))):
                out.append({"dataset": q["dataset"][0], "config": config,
                            "split": f[: -len(".jsonl")]})
        self.json_reply(200, {"splits": out, "pending": [], "failed": []})

    def rows(self, q):
        top = self.viewer_rows(q)
        if top is None:
            return
        config, split = q.get("config", [""])[0], q.get("split", [""])[0]
        offset, length = int(q.get("offset", ["0"])[0]), int(q.get("length", ["100"])[0])
        if length > 100:
            return self.json_reply(422, {"error": "Parameter 'length' must not be greater than 100"},
                                   [("X-Error-Code", "InvalidParameter")])
        path = os.path.join(top, config, split + ".jsonl")
        if "/" in config + split or ".." in config + split or not os.path.isfile(path):
            return self.json_reply(404, {"error": "Not found."}, [("X-Error-Code", "ResponseNotFound")])
        with open(path, "rb") as fp:
            raw = fp.read()
        # rows that are not valid UTF-8 are sent as they are (a broken viewer)
        try:
            raw.decode("utf-8")
            bad = False
        except UnicodeDecodeError:
            bad = True
        rows = [json.loads(line) for line in raw.decode("utf-8", "surrogateescape").split("\n") if line.strip()]
        feats = [{"feature_idx": i, "name": k, "type": {"dtype": "string", "_type": "Value"}}
                 for i, k in enumerate(rows[0])] if rows else []
        page = [{"row_idx": offset + i, "row": row, "truncated_cells": []}
                for i, row in enumerate(rows[offset:offset + length])]
        answer = {"features": feats, "rows": page, "num_rows_total": len(rows),
                  "num_rows_per_page": 100, "partial": False}
        if bad:
            return self.reply(200, [("Content-Type", "application/json")], json.dumps(
                answer, ensure_ascii=False).encode("utf-8", "surrogateescape"))
        self.json_reply(200, answer)


class Cdn(Handler):
    kind = "cdn"


def main():
    global CDN_PORT
    hub = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    cdn = ThreadingHTTPServer(("127.0.0.1", 0), Cdn)
    hub.daemon_threads = cdn.daemon_threads = True
    CDN_PORT = cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    tmp = os.path.join(STATE, "ports.tmp")
    with open(tmp, "w") as fp:
        fp.write("%d %d\n" % (hub.server_address[1], CDN_PORT))
    os.rename(tmp, os.path.join(STATE, "ports"))
    threading.Event().wait(300)


CDN_PORT = 0
if __name__ == "__main__":
    main()
