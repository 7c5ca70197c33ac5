"""Reading matcalc's notation: text → frozen syntax tree, all notation sugar removed.

The modules, each importing only those listed before it:

- :mod:`~matcalc.syntax.words`: the words the language reserves (``I``, ``kron``, size letters);
- :mod:`~matcalc.syntax.grammar`: the grammar and its cached LALR parser;
- :mod:`~matcalc.syntax.source`: the text's bounds, positions in it, syntax errors;
- :mod:`~matcalc.syntax.rewrite`: letters written together, functions without parentheses;
- :mod:`~matcalc.syntax.names`: what every name is, and what one reading gives it;
- :mod:`~matcalc.syntax.making`, :mod:`~matcalc.syntax.products`, :mod:`~matcalc.syntax.calls`,
  :mod:`~matcalc.syntax.builder`: the tree builder, one method per grammar alias;
- :mod:`~matcalc.syntax.sizes`: sizes used as numbers tied, unknown sizes named, the tree grounded;
- :mod:`~matcalc.syntax.readings`: the search over readings, and what the reading chosen assumed, in words;
- :mod:`~matcalc.syntax.read`: the passes in order (:func:`parse_tree`).
"""

from .grammar import cache_dir, grammar_text
from .read import Parsed, natural_order, parse_tree
from .sizes import size_meaning
from .source import check_input_bounds

__all__ = ["Parsed", "parse_tree", "size_meaning", "natural_order", "check_input_bounds", "grammar_text", "cache_dir"]
