// njs handlers for the native peer (nginx + njs), written by hand to do what the DataKit flows do.
// flow: F1, "authenticate to a third-party service". join: F3, datakit.md §9 C1.
async function flow(r) {
    // (1) headers * {"X-Api-Key": (.query.api_key // "none")}   (jq `//`: null/false/absent -> "none")
    var key = r.args.api_key;
    if (Array.isArray(key)) { key = key[0]; }
    r.variables.dk_api_key = (key === undefined || key === null) ? 'none' : key;

    // (2) POST grant_type=client_credentials to the auth service (keep-alive pool via /_dk_auth)
    var res;
    try {
        res = await r.subrequest('/_dk_auth', { method: 'POST', body: 'grant_type=client_credentials' });
    } catch (e) {
        r.return(502, 'auth call failed\n');
        return;
    }
    if (res.status != 200) {
        r.return(502, 'auth status ' + res.status + '\n');
        return;
    }

    // (3) {Authorization: (.token_type + " " + .access_token)}
    var tok;
    try {
        tok = JSON.parse(res.responseText);
    } catch (e) {
        r.return(502, 'bad auth json\n');
        return;
    }
    r.variables.dk_authz = tok.token_type + ' ' + tok.access_token;

    // (4) proxy the original request to the upstream (proxy module, keep-alive pool)
    r.internalRedirect('@dk_upstream');
}

// F3: two concurrent calls, joined like the jq node '{ author: .input1.slideshow.author, uuid: .input2.uuid }',
// returned like exit {status: 200, body: JOIN}. A non-2xx call or a non-JSON body is a 500, as in DataKit.
async function join(r) {
    var replies;
    try {
        replies = await Promise.all([r.subrequest('/_dk_t1_json'), r.subrequest('/_dk_t1_uuid')]);
    } catch (e) {
        r.return(500, '{"message":"An unexpected error occurred"}');
        return;
    }
    var input1, input2;
    try {
        if (replies[0].status < 200 || replies[0].status > 299 || replies[1].status < 200 || replies[1].status > 299) {
            throw new Error('non-2XX response code');
        }
        input1 = JSON.parse(replies[0].responseText);
        input2 = JSON.parse(replies[1].responseText);
    } catch (e) {
        r.return(500, '{"message":"An unexpected error occurred"}');
        return;
    }
    // jq's `.a.b` on a missing key is null; mirror that instead of throwing
    var author = (input1 && input1.slideshow && input1.slideshow.author !== undefined) ? input1.slideshow.author : null;
    var uuid = (input2 && input2.uuid !== undefined) ? input2.uuid : null;
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify({ author: author, uuid: uuid }));
}

export default { flow, join };
