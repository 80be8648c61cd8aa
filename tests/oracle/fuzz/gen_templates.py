# Random template expressions (filters, tests, operators on mixed types), for run.sh.
import random, json, sys, subprocess
r = random.Random(int(sys.argv[1]))
N = int(sys.argv[2])
atoms = ["n", "s", "l", "d", "f", "b", "none", "'abc'", "'A b,C'", "3", "-2", "1.5", "0", "true", "false", "[1, 2, 3]", "['b', 'a', 'c']", "{'x': 1, 'y': [2]}", "''", "'10'", "'3.7'", "'yes'", "[]", "{}", "[1, [2, [3]]]", "'a-b_c'", "stamp", "day", "[none, 1]", "'  pad  '", "'x' * 3", "(1, 2)", "'%s-%d'", "1e3", "2 ** 10", "'ünï'"]
filters = ["| length", "| string", "| int", "| float", "| bool", "| lower", "| upper", "| first", "| last", "| sort", "| unique", "| reverse | list", "| join(',')", "| to_json", "| to_nice_json", "| to_yaml", "| default('D')", "| d(1, true)", "| abs", "| round", "| round(1, 'floor')", "| trim", "| capitalize", "| title", "| list", "| dict2items", "| items2dict", "| min", "| max", "| sum", "| flatten", "| type_debug", "| tojson", "| replace('a', 'z')", "| regex_replace('[aeiou]', '_')", "| regex_search('[a-z]+')", "| regex_findall('\\\\w')", "| map('string') | list", "| select | list", "| reject('none') | list", "| batch(2) | list", "| slice(2) | list", "| wordcount", "| center(9)", "| truncate(5)", "| indent(2)", "| split(',')", "| quote", "| b64encode", "| hash('sha1')", "| checksum", "| mandatory", "| ternary('y', 'n')", "| combine({'z': 0})", "| zip([1, 2]) | list", "| random(seed=1)", "| shuffle(seed=1)", "| urlencode", "| format(1)", "| count", "| int(base=16)", "| string | list", "| dictsort", "| groupby('x') | list", "| selectattr('x') | list", "| map(attribute='x') | list", "| community_general_missing", "| basename", "| dirname", "| splitext", "| expanduser", "| bool | string", "| to_nice_yaml(indent=2)", "| from_json", "| from_yaml", "| json_query('x')", "| human_readable", "| human_to_bytes", "| intersect([1, 'a'])", "| difference([1])", "| symmetric_difference([2])", "| union([9])", "| pprint", "| e", "| safe", "| forceescape", "| striptags", "| xmlattr", "| filesizeformat", "| wordwrap(3)", "| attr('x')", "| float | round(2)"]
ops = [" + ", " - ", " * ", " / ", " // ", " % ", " ~ ", " == ", " != ", " < ", " in ", " and ", " or ", " is defined and ", " if true else "]
tests = ["is string", "is number", "is integer", "is float", "is mapping", "is iterable", "is sequence", "is none", "is true", "is false", "is boolean", "is defined", "is undefined", "is sameas 1", "is eq 1", "is divisibleby 2", "is odd", "is even", "is lower", "is upper", "is truthy", "is falsy", "is search('a')", "is match('a')", "is regex('^a')", "is version('1.0', '>')", "is subset([1,2,3,4])", "is superset([1])", "is contains(1)", "is in([1,2])", "is callable", "is escaped", "is abs"]
def expr(depth=0):
    k = r.random()
    if depth > 2 or k < 0.35:
        e = r.choice(atoms)
    elif k < 0.7:
        e = expr(depth+1) + " " + r.choice(filters)
    elif k < 0.85:
        e = "(" + expr(depth+1) + r.choice(ops) + expr(depth+1) + ")"
    else:
        e = "(" + expr(depth+1) + " " + r.choice(tests) + ")"
    return e
ts = sorted(set("{{ " + expr() + " }}" for _ in range(N)))
json.dump(ts, sys.stdout)
