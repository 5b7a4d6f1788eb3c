/* tb-catalogue-doc: prints the Markdown reference of every event in
 * schemas/events.def to stdout. docs/events.md is this output, and the
 * catalogue_docs_current test fails when the two differ.
 *
 * Usage: tb-catalogue-doc > docs/events.md */
#include <stdio.h>

#include "catalogue.h"

int main(void) {
    if (tb_catalogue_write_markdown(stdout) != 0 || fflush(stdout) != 0) {
        fputs("tb-catalogue-doc: write failed\n", stderr);
        return 1;
    }
    return 0;
}
