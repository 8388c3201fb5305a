# Builds the dashboard page: index.html with Chart.js (Debian libjs-chart.js) inlined.
# cmake -DHTML=<index.html> -DCHARTJS=<chart.min.js> -DOUT=<page.html> -P dashboard_page.cmake
file(READ "${HTML}" html)
file(READ "${CHARTJS}" chart)
string(FIND "${html}" "/*@CHART_JS@*/" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${HTML} has no /*@CHART_JS@*/ marker")
endif()
string(SUBSTRING "${html}" 0 ${at} before)
math(EXPR after_at "${at} + 14")
string(SUBSTRING "${html}" ${after_at} -1 after)
file(WRITE "${OUT}" "${before}")
file(APPEND "${OUT}" "${chart}")
file(APPEND "${OUT}" "${after}")
