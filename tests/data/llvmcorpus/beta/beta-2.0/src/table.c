/* Data only: no function definitions, so no module. */
const int beta_table[4] = {1, 2, 3, 5};
