"""One module per coding concept. Each rule is a small function that cites its source; the engine
(``infucode.engine``) composes them."""
