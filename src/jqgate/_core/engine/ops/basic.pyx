# The synchronous user nodes: jq (§5.2) and exit (§5.3). static needs no code: its values are
# already in the slot template.


cdef object ops_run_jq(CompiledOp op, object value):
    prog = op.program
    try:
        if type(prog) is JqProgram:     # the bridge's C-level entry: no Python call
            return (<JqProgram>prog).c_run_one(value)
        return prog.run_one(value)      # test adapters with the same contract
    except EngineNodeError:
        raise
    except Exception as e:          # JqRuntimeError: D1 texts and jq's own messages
        raise EngineNodeError(str(e)) from None


cdef tuple ops_exit_answer(int status, object body, object headers):
    """-> (status, [(str, str)], bytes): null headers omitted, scalars stringified, Content-Type
    for structured bodies unless given (D11), Content-Length set."""
    cdef list out = []
    cdef str k
    values_check_map(headers, 'input "headers"')
    data, ct = values_encode_body(body, values_patch_has(headers, "content-type"), False)
    if headers:
        for k, v in (<dict>headers).items():
            if k.lower() in VALUES_FRAMING:
                continue
            out.extend(values_header_entries(k, v))
    if ct is not None:
        out.append(("Content-Type", ct))
    if data is None:
        data = b""
    out.append(("Content-Length", str(len(<bytes>data))))
    return status, out, data
