# Declarations of jq/native_nodes.pyx: what the rest of the core uses from it (via core.pxd).

cdef class JqnNode:
    cdef object eval(self, object v, list env)

cdef object jqn_operand(JqnNode node, object v, list env, int* state)
cdef int jqn_settle(int state) except -1

cdef class JqnIdentity(JqnNode):
    cdef object eval(self, object v, list env)

cdef class JqnConst(JqnNode):
    cdef object value

    cdef object eval(self, object v, list env)

cdef class JqnIndex(JqnNode):
    cdef JqnNode src       # None: the input itself
    cdef object key

    cdef bint optional     # `.key?`: this index's own error gives no result (INDEX_OPT)

    cdef object eval(self, object v, list env)

cdef class JqnTry(JqnNode):
    cdef JqnNode body

    cdef object eval(self, object v, list env)

cdef class JqnPipe(JqnNode):
    cdef JqnNode a
    cdef JqnNode b

    cdef object eval(self, object v, list env)

cdef class JqnAlt(JqnNode):
    cdef JqnNode a
    cdef JqnNode b

    cdef object eval(self, object v, list env)

cdef class JqnLogic(JqnNode):
    cdef JqnNode a
    cdef JqnNode b
    cdef bint is_and

    cdef object eval(self, object v, list env)

cdef class JqnBinary(JqnNode):
    cdef JqnNode a
    cdef JqnNode b
    cdef int op      # 0 +, 1 *, 2 ==, 3 !=, 4 <, 5 <=, 6 >, 7 >=

    cdef object eval(self, object v, list env)

cdef class JqnFormat(JqnNode):
    cdef tuple parts       # str or JqnNode

    cdef object eval(self, object v, list env)

cdef class JqnArray(JqnNode):
    cdef tuple items

    cdef object eval(self, object v, list env)

cdef class JqnObject(JqnNode):
    cdef tuple values      # JqnNode

    cdef tuple keys        # str (constant) or JqnNode

    cdef object eval(self, object v, list env)

cdef class JqnIf(JqnNode):
    cdef JqnNode cond
    cdef JqnNode then
    cdef JqnNode otherwise

    cdef object eval(self, object v, list env)

cdef class JqnVar(JqnNode):
    cdef Py_ssize_t slot

    cdef object eval(self, object v, list env)

cdef class JqnBind(JqnNode):
    cdef JqnNode src
    cdef Py_ssize_t slot
    cdef JqnNode body

    cdef object eval(self, object v, list env)

cdef enum:
    B_NOT
    B_TYPE
    B_LENGTH
    B_TOSTRING
    B_TONUMBER
    B_KEYS
    B_KEYS_UNSORTED
    B_DOWNCASE
    B_UPCASE
    B_TO_ENTRIES
    B_FROM_ENTRIES
    B_EMPTY

cdef class JqnBuiltin(JqnNode):
    cdef int which

    cdef object eval(self, object v, list env)

cdef class JqnHas(JqnNode):
    cdef JqnNode arg

    cdef object eval(self, object v, list env)

cdef class JqnSelect(JqnNode):
    cdef JqnNode cond

    cdef object eval(self, object v, list env)

cdef list jqn_map(JqnNode f, object items, list env)

cdef class JqnMap(JqnNode):
    cdef JqnNode f

    cdef object eval(self, object v, list env)

cdef class JqnWithEntries(JqnNode):
    cdef JqnNode f

    cdef object eval(self, object v, list env)

cdef class JqnSetField(JqnNode):
    cdef str key
    cdef JqnNode rhs

    cdef object eval(self, object v, list env)

cdef class JqnUpdateField(JqnNode):
    cdef str key
    cdef JqnNode f

    cdef object eval(self, object v, list env)

cdef JqnNode jqn_build(tuple d)
