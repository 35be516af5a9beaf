/* The firehose's per-post loops in C (issue 3): model.matcher.Matcher's, and model.doc's over cached posts
 * (`docs_of_chunks`, at the end).
 *
 * `match_docs(docs, state)` does for each Doc what `Matcher._match_one` does in Python, with the
 * same data: the surface-form cache (word -> units it triggers), the parts of the rules (the
 * operands of a rule's top-level OR) indexed by unit, the units of one-word/OR-of-words parts. It
 * builds the occurrences of each unit (a dict unit -> ascending token indices), the candidate parts,
 * and for each candidate in part order either the offsets of its words (one-word/OR-of-words parts)
 * or, when the unit sets it requires occurred, calls back into Python for the parts that need their
 * evaluation tree (phrases, NEAR, AND, NOT). The true parts of one rule (consecutive) give one
 * RuleMatch with the sorted union of their spans. A post with a word missing from the cache is
 * handed to Python, which learns its words and gives their units.
 *
 * state = (cache, parts_by_unit, simple, requires, always, rule_of, ids, rule_match, make_post,
 *          evaluate, learn):
 *   cache          dict[str, tuple[int, ...]]
 *   parts_by_unit  list[tuple[int, ...]]
 *   simple         list[tuple[int, ...] | None]  per part, the units of a one-word/OR-of-words part
 *   requires       list[tuple[tuple[int, ...], ...]]  per part, unit sets of which one unit at least
 *                  must occur for the part to be true (checked here before `evaluate` is called)
 *   always         list[int]                     parts that may be true without any of their words
 *   rule_of        list[int]                     per part, its rule's index (ascending)
 *   ids            list[str]                     per rule
 *   rule_match     the RuleMatch type (a tuple subclass of two items)
 *   make_post      callable(occ, doc) -> the object `evaluate` takes
 *   evaluate       callable(part, post, doc) -> tuple of (start, end) | None
 *   learn          callable(doc) -> tuple of the units of each word of doc (learning the unseen ones)
 * The Python implementation (matcher.py) is the reference; tests compare the two.
 *
 * The spans, offsets and RuleMatch tuples made here hold only ints and strings: they are taken out
 * of the garbage collector's care at once (CPython does the same to such tuples, later, at its next
 * collection), so that a batch's thousands of matches do not make every collection longer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    Py_ssize_t *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buf;

static int
buf_push(Buf *b, Py_ssize_t value)
{
    if (b->len == b->cap) {
        Py_ssize_t cap = b->cap ? 2 * b->cap : 64;
        Py_ssize_t *data = PyMem_Realloc(b->data, (size_t)cap * sizeof(Py_ssize_t));
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->data = data;
        b->cap = cap;
    }
    b->data[b->len++] = value;
    return 0;
}

static int
compare(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* Sort and drop repeats in place. */
static void
sort_unique(Buf *b)
{
    if (b->len < 2) {
        return;
    }
    qsort(b->data, (size_t)b->len, sizeof(Py_ssize_t), compare);
    Py_ssize_t kept = 1;
    for (Py_ssize_t i = 1; i < b->len; i++) {
        if (b->data[i] != b->data[kept - 1]) {
            b->data[kept++] = b->data[i];
        }
    }
    b->len = kept;
}

typedef struct {
    PyObject *cache, *parts_by_unit, *simple, *requires, *always, *rule_of, *ids, *make_post, *evaluate, *learn;
    PyTypeObject *rule_match;
} State;

/* The cache's entry of each word of `words` (new references, released by `release`); 0 when one
   is missing (nothing held then), -1 on error. Held, not borrowed: building the occurrences
   allocates, a collection may run a finalizer, and another thread may then clear the cache. */
static void release(PyObject **found, Py_ssize_t n);

static int
lookup(State *st, PyObject *words, PyObject **found)
{
    Py_ssize_t n = PyTuple_GET_SIZE(words);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *units = PyDict_GetItemWithError(st->cache, PyTuple_GET_ITEM(words, i));
        if (units == NULL) {
            return PyErr_Occurred() ? -1 : 0;
        }
        if (!PyTuple_Check(units)) {
            PyErr_SetString(PyExc_TypeError, "matcher cache values must be tuples");
            return -1;
        }
        found[i] = units;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(found[i]);
    }
    return 1;
}

static void
release(PyObject **found, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(found[i]);
    }
}

/* unit -> [token index, ...] for every unit that occurred. */
static PyObject *
occurrences(PyObject *words, PyObject **found)
{
    PyObject *occ = PyDict_New();
    if (occ == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(words);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t m = PyTuple_GET_SIZE(found[i]);
        if (m == 0) {
            continue;
        }
        PyObject *index = PyLong_FromSsize_t(i);
        if (index == NULL) {
            goto fail;
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *unit = PyTuple_GET_ITEM(found[i], j);
            PyObject *where = PyDict_GetItemWithError(occ, unit);
            if (where == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(index);
                    goto fail;
                }
                where = PyList_New(1);
                if (where == NULL) {
                    Py_DECREF(index);
                    goto fail;
                }
                Py_INCREF(index);
                PyList_SET_ITEM(where, 0, index);
                int failed = PyDict_SetItem(occ, unit, where);
                Py_DECREF(where);
                if (failed) {
                    Py_DECREF(index);
                    goto fail;
                }
            }
            else if (PyList_Append(where, index) < 0) {
                Py_DECREF(index);
                goto fail;
            }
        }
        Py_DECREF(index);
    }
    return occ;
fail:
    Py_DECREF(occ);
    return NULL;
}

/* Parts indexed under a unit that occurred, and the parts true without their words; sorted. */
static int
candidates(State *st, PyObject *occ, Buf *out)
{
    Py_ssize_t pos = 0, n_units = PyList_GET_SIZE(st->parts_by_unit);
    PyObject *unit, *where;
    while (PyDict_Next(occ, &pos, &unit, &where)) {
        Py_ssize_t u = PyLong_AsSsize_t(unit);
        if (u < 0 || u >= n_units) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "unit out of range");
            }
            return -1;
        }
        PyObject *parts = PyList_GET_ITEM(st->parts_by_unit, u);
        Py_ssize_t m = PyTuple_GET_SIZE(parts);
        for (Py_ssize_t j = 0; j < m; j++) {
            Py_ssize_t part = PyLong_AsSsize_t(PyTuple_GET_ITEM(parts, j));
            if ((part == -1 && PyErr_Occurred()) || buf_push(out, part) < 0) {
                return -1;
            }
        }
    }
    Py_ssize_t m = PyList_GET_SIZE(st->always);
    for (Py_ssize_t j = 0; j < m; j++) {
        Py_ssize_t part = PyLong_AsSsize_t(PyList_GET_ITEM(st->always, j));
        if ((part == -1 && PyErr_Occurred()) || buf_push(out, part) < 0) {
            return -1;
        }
    }
    sort_unique(out);
    return 0;
}

/* The start offset of each token of `doc`, `n` of them, into `out`. From the Doc's chunk entries when
   it has them (model/doc.py `_Chunk`: texts, lemmas, steps, kinds, where the first token starts), as
   `Doc.starts` computes them but without building its tuple; else from `Doc.starts`. */
static int
token_starts(PyObject *doc, Py_ssize_t n, Buf *out)
{
    out->len = 0;
    PyObject *chunks = PyObject_GetAttrString(doc, "_chunks");
    if (chunks == NULL) {
        return -1;
    }
    if (PyTuple_Check(chunks)) {
        Py_ssize_t position = 0;
        for (Py_ssize_t c = 0; c < PyTuple_GET_SIZE(chunks); c++) {
            PyObject *entry = PyTuple_GET_ITEM(chunks, c);
            if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5 || !PyTuple_Check(PyTuple_GET_ITEM(entry, 2))) {
                PyErr_SetString(PyExc_TypeError, "Doc._chunks entries must be (texts, lemmas, steps, kinds, first)");
                goto fail;
            }
            PyObject *steps = PyTuple_GET_ITEM(entry, 2);
            Py_ssize_t first = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 4));
            if (first == -1 && PyErr_Occurred()) {
                goto fail;
            }
            position += first;
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(steps); k++) {
                Py_ssize_t step = PyLong_AsSsize_t(PyTuple_GET_ITEM(steps, k));
                if ((step == -1 && PyErr_Occurred()) || buf_push(out, position) < 0) {
                    goto fail;
                }
                position += step;
            }
        }
        Py_DECREF(chunks);
    }
    else {
        Py_DECREF(chunks);
        PyObject *starts = PyObject_GetAttrString(doc, "starts");
        if (starts == NULL) {
            return -1;
        }
        if (!PyTuple_Check(starts)) {
            Py_DECREF(starts);
            PyErr_SetString(PyExc_TypeError, "Doc.starts must be a tuple");
            return -1;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(starts); k++) {
            Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GET_ITEM(starts, k));
            if ((start == -1 && PyErr_Occurred()) || buf_push(out, start) < 0) {
                Py_DECREF(starts);
                return -1;
            }
        }
        Py_DECREF(starts);
    }
    if (out->len != n) {
        PyErr_SetString(PyExc_ValueError, "the doc's token starts and words differ in number");
        return -1;
    }
    return 0;
fail:
    Py_DECREF(chunks);
    return -1;
}

/* ((start, end), ...) of the given tokens. */
static PyObject *
offsets_of(PyObject *words, Buf *starts, Buf *tokens)
{
    PyObject *out = PyTuple_New(tokens->len);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < tokens->len; k++) {
        Py_ssize_t t = tokens->data[k];
        if (t < 0 || t >= starts->len || t >= PyTuple_GET_SIZE(words)) {
            PyErr_SetString(PyExc_IndexError, "token index out of range of the doc's starts");
            Py_DECREF(out);
            return NULL;
        }
        Py_ssize_t s = starts->data[t];
        PyObject *span = Py_BuildValue("(nn)", s, s + PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(words, t)));
        if (span == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject_GC_UnTrack(span);
        PyTuple_SET_ITEM(out, k, span);
    }
    PyObject_GC_UnTrack(out);
    return out;
}

/* The token indices of the units of a simple part that occurred (ascending, each once). */
static int
simple_tokens(PyObject *units, PyObject *occ, Buf *out)
{
    Py_ssize_t sources = 0, m = PyTuple_GET_SIZE(units);
    out->len = 0;
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *where = PyDict_GetItemWithError(occ, PyTuple_GET_ITEM(units, j));
        if (where == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue;
        }
        sources++;
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(where); k++) {
            Py_ssize_t t = PyLong_AsSsize_t(PyList_GET_ITEM(where, k));
            if ((t == -1 && PyErr_Occurred()) || buf_push(out, t) < 0) {
                return -1;
            }
        }
    }
    if (sources > 1) {
        sort_unique(out);
    }
    return 0;
}

/* Whether every unit set the part requires has a unit that occurred: 1, 0, or -1 on error. */
static int
requirements_met(State *st, Py_ssize_t part, PyObject *occ)
{
    PyObject *sets = PyList_GET_ITEM(st->requires, part);
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(sets); j++) {
        PyObject *units = PyTuple_GET_ITEM(sets, j);
        int any = 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(units) && !any; k++) {
            any = PyDict_Contains(occ, PyTuple_GET_ITEM(units, k));
            if (any < 0) {
                return -1;
            }
        }
        if (!any) {
            return 0;
        }
    }
    return 1;
}

/* The sorted union of two tuples of spans, each span once (both are consumed). */
static PyObject *
merge(PyObject *a, PyObject *b)
{
    PyObject *all = PySequence_List(a);
    Py_DECREF(a);
    if (all == NULL) {
        Py_DECREF(b);
        return NULL;
    }
    PyObject *more = PySequence_InPlaceConcat(all, b);
    Py_DECREF(b);
    if (more == NULL) {
        Py_DECREF(all);
        return NULL;
    }
    Py_DECREF(more); /* the same list as `all` */
    if (PyList_Sort(all) < 0) {
        Py_DECREF(all);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(all), kept = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *span = PyList_GET_ITEM(all, i);
        if (kept > 0) {
            int same = PyObject_RichCompareBool(PyList_GET_ITEM(all, kept - 1), span, Py_EQ);
            if (same < 0) {
                Py_DECREF(all);
                return NULL;
            }
            if (same) {
                continue;
            }
        }
        Py_INCREF(span);
        Py_SETREF(PyList_GET_ITEM(all, kept), span); /* kept <= i: never a span still to be read */
        kept++;
    }
    PyObject *out = PyList_GetSlice(all, 0, kept);
    Py_DECREF(all);
    if (out == NULL) {
        return NULL;
    }
    PyObject *tuple = PyList_AsTuple(out);
    Py_DECREF(out);
    return tuple;
}

static PyObject *
rule_match(State *st, Py_ssize_t rule, PyObject *offsets)
{
    if (rule < 0 || rule >= PyList_GET_SIZE(st->ids)) {
        PyErr_SetString(PyExc_IndexError, "rule index out of range of ids");
        Py_DECREF(offsets);
        return NULL;
    }
    PyObject *id = PyList_GET_ITEM(st->ids, rule);
    PyObject *match = st->rule_match->tp_alloc(st->rule_match, 2);
    if (match == NULL) {
        Py_DECREF(offsets);
        return NULL;
    }
    Py_INCREF(id);
    PyTuple_SET_ITEM(match, 0, id);
    PyTuple_SET_ITEM(match, 1, offsets); /* steals */
    if (PyTuple_CheckExact(offsets) && !PyObject_GC_IsTracked(offsets) && PyUnicode_CheckExact(id)) {
        PyObject_GC_UnTrack(match);
    }
    return match;
}

/* Append the RuleMatch of `rule` to `out` (consumes `offsets`). */
static int
flush(State *st, PyObject *out, Py_ssize_t rule, PyObject *offsets)
{
    PyObject *match = rule_match(st, rule, offsets);
    if (match == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, match);
    Py_DECREF(match);
    return failed;
}

static PyObject *
match_one(State *st, PyObject *doc, PyObject ***found, Py_ssize_t *found_cap, Buf *cand, Buf *tokens,
          Buf *starts)
{
    PyObject *words = PyObject_GetAttrString(doc, "words");
    PyObject *occ = NULL, *out = NULL, *post = NULL, *result = NULL;
    int have_starts = 0;
    PyObject *pending_offsets = NULL; /* the spans so far of the rule of the last true part */
    Py_ssize_t pending = -1;
    if (words == NULL) {
        return NULL;
    }
    if (!PyTuple_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "Doc.words must be a tuple");
        goto done;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(words);
    if (n > *found_cap) {
        PyObject **grown = PyMem_Realloc(*found, (size_t)n * sizeof(PyObject *));
        if (grown == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        *found = grown;
        *found_cap = n;
    }
    int known = lookup(st, words, *found);
    if (known < 0) {
        goto done;
    }
    if (known == 0) { /* a word not seen yet: Python learns the post's words and gives their units */
        PyObject *learned = PyObject_CallOneArg(st->learn, doc);
        if (learned == NULL) {
            goto done;
        }
        if (!PyTuple_Check(learned) || PyTuple_GET_SIZE(learned) != n) {
            PyErr_SetString(PyExc_TypeError, "learn(doc) must return a tuple of one item per word");
            Py_DECREF(learned);
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *units = PyTuple_GET_ITEM(learned, i);
            if (!PyTuple_Check(units)) {
                PyErr_SetString(PyExc_TypeError, "learn(doc) must return tuples of units");
                release(*found, i);
                Py_DECREF(learned);
                goto done;
            }
            Py_INCREF(units);
            (*found)[i] = units;
        }
        Py_DECREF(learned);
    }
    occ = occurrences(words, *found);
    release(*found, n);
    if (occ == NULL) {
        goto done;
    }
    if (PyDict_GET_SIZE(occ) == 0 && PyList_GET_SIZE(st->always) == 0) {
        result = PyTuple_New(0);
        goto done;
    }
    cand->len = 0;
    if (candidates(st, occ, cand) < 0) {
        goto done;
    }
    out = PyList_New(0);
    if (out == NULL) {
        goto done;
    }
    Py_ssize_t n_parts = PyList_GET_SIZE(st->simple);
    for (Py_ssize_t c = 0; c < cand->len; c++) {
        Py_ssize_t part = cand->data[c];
        if (part < 0 || part >= n_parts) {
            PyErr_SetString(PyExc_IndexError, "part index out of range");
            goto done;
        }
        PyObject *units = PyList_GET_ITEM(st->simple, part);
        PyObject *offsets;
        if (units != Py_None) { /* one word or an OR of words: true, its words are the spans */
            if (!PyTuple_Check(units)) {
                PyErr_SetString(PyExc_TypeError, "simple part units must be tuples");
                goto done;
            }
            if (simple_tokens(units, occ, tokens) < 0) {
                goto done;
            }
            if (tokens->len == 0) {
                continue;
            }
            if (!have_starts) {
                if (token_starts(doc, n, starts) < 0) {
                    goto done;
                }
                have_starts = 1;
            }
            offsets = offsets_of(words, starts, tokens);
        }
        else {
            int met = requirements_met(st, part, occ);
            if (met < 0) {
                goto done;
            }
            if (!met) {
                continue;
            }
            if (post == NULL) {
                post = PyObject_CallFunctionObjArgs(st->make_post, occ, doc, NULL);
                if (post == NULL) {
                    goto done;
                }
            }
            PyObject *index = PyLong_FromSsize_t(part);
            if (index == NULL) {
                goto done;
            }
            offsets = PyObject_CallFunctionObjArgs(st->evaluate, index, post, doc, NULL);
            Py_DECREF(index);
            if (offsets == Py_None) {
                Py_DECREF(offsets);
                continue;
            }
        }
        if (offsets == NULL) {
            goto done;
        }
        Py_ssize_t rule = PyLong_AsSsize_t(PyList_GET_ITEM(st->rule_of, part));
        if (rule == -1 && PyErr_Occurred()) {
            Py_DECREF(offsets);
            goto done;
        }
        if (rule == pending) { /* another true part of the same rule */
            pending_offsets = merge(pending_offsets, offsets);
            if (pending_offsets == NULL) {
                goto done;
            }
            continue;
        }
        if (pending >= 0 && flush(st, out, pending, pending_offsets) < 0) {
            pending_offsets = NULL; /* consumed */
            Py_DECREF(offsets);
            goto done;
        }
        pending = rule;
        pending_offsets = offsets;
    }
    if (pending >= 0) {
        int failed = flush(st, out, pending, pending_offsets);
        pending_offsets = NULL; /* consumed */
        if (failed) {
            goto done;
        }
    }
    result = PyList_AsTuple(out);
done:
    Py_DECREF(words);
    Py_XDECREF(occ);
    Py_XDECREF(out);
    Py_XDECREF(post);
    Py_XDECREF(pending_offsets);
    return result;
}

static int
unpack_state(PyObject *state, State *st)
{
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 11) {
        PyErr_SetString(PyExc_TypeError, "state must be a tuple of 11 items");
        return -1;
    }
    st->cache = PyTuple_GET_ITEM(state, 0);
    st->parts_by_unit = PyTuple_GET_ITEM(state, 1);
    st->simple = PyTuple_GET_ITEM(state, 2);
    st->requires = PyTuple_GET_ITEM(state, 3);
    st->always = PyTuple_GET_ITEM(state, 4);
    st->rule_of = PyTuple_GET_ITEM(state, 5);
    st->ids = PyTuple_GET_ITEM(state, 6);
    PyObject *type = PyTuple_GET_ITEM(state, 7);
    st->make_post = PyTuple_GET_ITEM(state, 8);
    st->evaluate = PyTuple_GET_ITEM(state, 9);
    st->learn = PyTuple_GET_ITEM(state, 10);
    if (!PyDict_CheckExact(st->cache) || !PyList_CheckExact(st->parts_by_unit) || !PyList_CheckExact(st->simple)
        || !PyList_CheckExact(st->requires) || !PyList_CheckExact(st->always) || !PyList_CheckExact(st->rule_of)
        || !PyList_CheckExact(st->ids)) {
        PyErr_SetString(PyExc_TypeError,
                        "state: cache must be a dict; parts_by_unit, simple, requires, always, rule_of, ids lists");
        return -1;
    }
    Py_ssize_t n_parts = PyList_GET_SIZE(st->rule_of);
    if (PyList_GET_SIZE(st->simple) != n_parts || PyList_GET_SIZE(st->requires) != n_parts) {
        PyErr_SetString(PyExc_ValueError, "state: simple, requires and rule_of must have one item per part");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n_parts; i++) {
        PyObject *sets = PyList_GET_ITEM(st->requires, i);
        if (!PyTuple_Check(sets)) {
            PyErr_SetString(PyExc_TypeError, "state: requires must hold tuples of tuples");
            return -1;
        }
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(sets); j++) {
            if (!PyTuple_Check(PyTuple_GET_ITEM(sets, j))) {
                PyErr_SetString(PyExc_TypeError, "state: requires must hold tuples of tuples");
                return -1;
            }
        }
    }
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "state: rule_match must be a tuple subclass");
        return -1;
    }
    st->rule_match = (PyTypeObject *)type;
    /* Every unit's parts must be a tuple: checked once here, not per post. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(st->parts_by_unit); i++) {
        if (!PyTuple_Check(PyList_GET_ITEM(st->parts_by_unit, i))) {
            PyErr_SetString(PyExc_TypeError, "state: parts_by_unit must hold tuples");
            return -1;
        }
    }
    return 0;
}

static PyObject *
match_docs(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "match_docs(docs, state) takes 2 arguments");
        return NULL;
    }
    State st;
    if (unpack_state(args[1], &st) < 0) {
        return NULL;
    }
    /* The state's lists are the matcher's own: hold them while Python code runs in callbacks. */
    PyObject *state = args[1];
    Py_INCREF(state);
    PyObject *docs = PySequence_Fast(args[0], "docs must be a sequence");
    if (docs == NULL) {
        Py_DECREF(state);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(docs);
    PyObject *out = PyList_New(n);
    PyObject **found = NULL;
    Py_ssize_t found_cap = 0;
    Buf cand = {NULL, 0, 0}, tokens = {NULL, 0, 0}, starts = {NULL, 0, 0};
    if (out != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *matches = match_one(&st, PySequence_Fast_GET_ITEM(docs, i), &found, &found_cap, &cand, &tokens,
                                          &starts);
            if (matches == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, i, matches);
        }
    }
    PyMem_Free(found);
    PyMem_Free(cand.data);
    PyMem_Free(tokens.data);
    PyMem_Free(starts.data);
    Py_DECREF(docs);
    Py_DECREF(state);
    return out;
}

/* ---- analysis: Docs from the chunk cache (model/doc.py `_analyze_normalized`) ---------------------- */

static PyObject *DOC_SLOTS[6]; /* text, _tokens, _lemmas, _words, _starts, _chunks */

/* A Doc whose chunks were all in the cache, as `Doc._of_chunks` makes it; Py_None when one is missing
   (Python learns it); NULL on error. */
static PyObject *
doc_of(PyTypeObject *doc_type, PyObject *cache, PyObject *text, PyObject *chunks)
{
    Py_ssize_t n = PyList_GET_SIZE(chunks), words = 0;
    PyObject *found = PyTuple_New(n);
    if (found == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *entry = PyDict_GetItemWithError(cache, PyList_GET_ITEM(chunks, i));
        if (entry == NULL) {
            Py_DECREF(found);
            if (PyErr_Occurred()) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5 || !PyTuple_Check(PyTuple_GET_ITEM(entry, 0))) {
            Py_DECREF(found);
            PyErr_SetString(PyExc_TypeError, "chunk cache entries must be (texts, lemmas, steps, kinds, first)");
            return NULL;
        }
        words += PyTuple_GET_SIZE(PyTuple_GET_ITEM(entry, 0));
        Py_INCREF(entry);
        PyTuple_SET_ITEM(found, i, entry);
    }
    PyObject *all = PyTuple_New(words);
    if (all == NULL) {
        Py_DECREF(found);
        return NULL;
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *texts = PyTuple_GET_ITEM(PyTuple_GET_ITEM(found, i), 0);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(texts); j++) {
            PyObject *word = PyTuple_GET_ITEM(texts, j);
            Py_INCREF(word);
            PyTuple_SET_ITEM(all, k++, word);
        }
    }
    /* Both hold only strings and immutable cache entries: no cycle can run through them. */
    PyObject_GC_UnTrack(all);
    PyObject_GC_UnTrack(found);
    PyObject *doc = doc_type->tp_alloc(doc_type, 0);
    PyObject *values[6] = {text, Py_None, Py_None, all, Py_None, found};
    int failed = doc == NULL;
    for (int i = 0; i < 6 && !failed; i++) {
        failed = PyObject_GenericSetAttr(doc, DOC_SLOTS[i], values[i]) < 0;
    }
    Py_DECREF(all);
    Py_DECREF(found);
    if (failed) {
        Py_XDECREF(doc);
        return NULL;
    }
    return doc;
}

static PyObject *
docs_of_chunks(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyType_Check(args[2]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "docs_of_chunks(normalized, cache: dict, doc_type: type)");
        return NULL;
    }
    PyObject *normalized = PySequence_Fast(args[0], "normalized must be a sequence");
    if (normalized == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(normalized);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(normalized, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(pair, 0))
            || !PyList_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "normalized items must be (text, list of chunks)");
            Py_CLEAR(out);
            break;
        }
        PyObject *doc = doc_of((PyTypeObject *)args[2], args[1], PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1));
        if (doc == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, doc);
    }
    Py_DECREF(normalized);
    return out;
}

static PyMethodDef methods[] = {
    {"docs_of_chunks", (PyCFunction)(void (*)(void))docs_of_chunks, METH_FASTCALL,
     "docs_of_chunks(normalized, cache, Doc) -> list of Doc or None (a chunk not cached): doc.py's loop."},
    {"match_docs", (PyCFunction)(void (*)(void))match_docs, METH_FASTCALL,
     "match_docs(docs, state) -> list of tuples of RuleMatch: Matcher.match's loop (see model/matcher.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "model._matchloop", "The per-post loops of model.matcher and model.doc in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__matchloop(void)
{
    const char *names[6] = {"text", "_tokens", "_lemmas", "_words", "_starts", "_chunks"};
    for (int i = 0; i < 6; i++) {
        DOC_SLOTS[i] = PyUnicode_InternFromString(names[i]);
        if (DOC_SLOTS[i] == NULL) {
            return NULL;
        }
    }
    return PyModule_Create(&module);
}
