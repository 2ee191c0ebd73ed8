"""The hostile-path corpus: every path-like parameter of every TZ API must refuse each payload.

Shared by the unit tests of path confinement and the HTTP tests of every route taking a path, so
one list grows for all of them.
"""

HOSTILE_PATHS = [
    # plain traversal
    "..", "../bob", "../../etc/passwd", "a/../../bob", "a/..", "a/../b", "./a", "a/./b", ".",
    "a/.", "..\\bob", "a\\..\\..\\bob",
    # absolute paths
    "/", "/etc/passwd", "//bob", "/workspace/users/bob/x",
    # backslashes
    "\\", "a\\b", "\\\\server\\share", "C:\\Windows",
    # NUL and control characters
    "a\x00b", "\x00", "a\x00/../../b", "a\nb", "a\rb", "a\tb", "a\x1bb", "a\x7fb", "a\x85b",
    # empty segments
    "a//b", "a/", "a/b/", "//",
    # percent-encoded traversal
    "%2e%2e", "%2E%2E", "%2e%2e/bob", "a/%2e%2e/%2e%2e/bob", "..%2fbob", "a%2fb", "a%2F..%2Fb",
    "%2e", ".%2e", "%2e.", "a%5cb", "%5c..%5cbob", "a%00b", "%00",
    # double and triple encoding
    "%252e%252e", "%252e%252e%252fbob", "a%252fb", "%25252e%25252e", "%255c",
    # overlong UTF-8 encodings of '.' and '/'
    "%c0%ae%c0%ae", "%c0%af", "%e0%80%ae",
    # Unicode lookalikes and NFKC tricks
    "\uff0e\uff0e", "\uff0e\uff0e/bob", "a\u2215..\u2215bob", "..\u2215bob", "a\u2044b",
    "\uff0fetc", "a\uff3cb", "\u2024\u2024", "\ufe52\ufe52", "\uff05\uff12\uff45\uff05\uff12\uff45",
    # bidi overrides and invisible characters
    "a\u202eb", "invoice\u202efdp.exe", "a\u200bb", "\ufeffa", "a\u2028b", "a\u2029b",
    # reserved names TZ uses for its own temporary files
    ".tz-upload-x", "a/.tz-write-1",
    # lengths
    "a" * 256, "/".join(["a" * 200] * 6), "\u00e9" * 128,
]  # fmt: skip

HOSTILE_SPACES = [
    "", "alice", "user", "user:", "team:", "users:alice", "group:data", "user:alice/../bob",
    "user:../bob", "team:data/../data-secret", "team:..", "team:.", "user:alice\x00",
    "team:data\\x", "team:%2e%2e", "user:\uff0e\uff0e", "USER:alice", " user:alice", None, 42,
]  # fmt: skip
