"""Plotly figure builders and the small frame shaping behind them (pure functions, no Streamlit).

Pages hand in repository rows (or frames made from them) and get figures back, so every number
a chart shows can be checked in a unit test. Change, smoothing and trial statistics come from
`core.trends`; these modules only arrange them per visit, per arm and per week. One module per
page (`trends`, `compare`, `studies`), and `timeline` for the frames and labels pages share;
a page imports the module it needs.
"""
