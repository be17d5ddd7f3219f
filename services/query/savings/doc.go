// Package savings computes what a prevention initiative saves, by the method
// of docs/savings.md (HM Treasury's Green Book and the GMCA cost-benefit model,
// with SROI-style adjustments): it reads and checks the initiative document,
// estimates the avoided outcomes (modelled from a cohort, or against a
// counterfactual from an interrupted time series, a
// difference-in-differences or a synthetic control with placebo inference),
// values them with unit costs, discounts
// benefits and costs, and reports PV benefits and costs, NPV, the
// benefit-cost ratio and the discounted payback period, year by year.
//
// The package does no I/O: the query handlers read the initiative and the
// series from ClickHouse, call Decode, Compute and Compare, and marshal the
// results. Every client mistake is an *InputError with a stable Code (whose
// schemas/errors.yaml code is Code.APICode), the JSON path of the field to
// change and a message that says what to change.
//
// Conventions (docs/savings.md):
//   - Year 0 is the initiative's start year; the report runs from year 0 to
//     year cba.horizon. Costs in year 0 are not discounted.
//   - Discount factors: DF(0) = 1, DF(t) = DF(t−1) / (1 + r(t)), with r(t)
//     the Green Book schedule (GreenBookRate) or a flat rate.
//   - Optimism bias reduces benefits by × (1 − ob_benefits) and raises costs
//     by × (1 + ob_costs).
//   - Modelled benefits start in year 1 + lag and last persistence years,
//     falling by drop_off each year after the first (BenefitProfile).
//   - Money is carried exactly (math/big.Rat: decimal inputs such as 0.1 are
//     exact tenths) and rounded half-even to the currency's ISO 4217 minor
//     unit only when shown (Money). Ratios and factors are shown in full
//     float64 precision.
//
// Where docs/savings.md is silent, this package decides:
//   - its and did credit the avoided cases of every year from year 1 + lag
//     on in which the target has an observation, as benefits start then for
//     every method; years 0 to lag still show the observed and
//     counterfactual values. The data show how long effects last, so
//     persistence and drop_off shape modelled benefits only. The pre-period
//     is every year of Data.Target before start_year.
//   - "avoided" in a report is cases credited to the initiative after
//     attribution, displacement and optimism bias (and deadweight, modelled),
//     so that benefit = avoided × Σ unit costs for every method.
//   - scale, when left out, comes from the indicator's unit (ScaleForUnit).
//   - A year without a population value takes the nearest year's (the
//     latest earlier one first), listed in inputs.population_filled.
//   - Amounts are never converted: every unit cost and cost must be in one
//     currency, and unit costs are used at their own price year's prices
//     (Ounce holds no deflator), as inputs.uprating says.
//   - The SROI ratio values the inputs at their cost without optimism bias.
//   - Payback counts from the first year with a cost (see Payback).
//   - synth draws its donors from comparison_geos; when the document names
//     none, the query service picks the default pool (inputs.donor_pool:
//     the target's peers holding the series in every pre-period year, at
//     most MaxComparisonGeo, the closest first). It fits on at least 3
//     pre-period years, takes RMSPE_post over the report's years, and
//     interpolates percentiles linearly (Percentile); see SyntheticControl.
package savings
