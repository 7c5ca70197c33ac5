"""The matcalc grammar (matcalc.lark), shipped inside the package as matcalc.grammar."""
