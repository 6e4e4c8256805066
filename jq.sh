# start jqgate for flow file $1 on port $2, core 1
cd /work/main && exec taskset -c 1 .venv/bin/jqgate run $1 --listen 127.0.0.1:$2 --workers 1 --no-admin --log-level warning
