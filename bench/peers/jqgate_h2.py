"""jqgate serving a flow with HTTP/2 on its listener (h2c prior knowledge and HTTP/1.1), one
worker, access log off: the HTTP/2 target of bench/run.py.

    python bench/peers/jqgate_h2.py FLOW_FILE HOST:PORT
"""
import sys

import jqgate

if __name__ == "__main__":
    flow_file, listen = sys.argv[1], sys.argv[2]
    sys.exit(jqgate.serve(flow_file, listen=listen, access_log="off",
                          server_options={"http2": True}))
