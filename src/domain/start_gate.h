/* TEST ONLY: VOS_TEST_START_GATE=ROLE:PATH holds a domain of that role
 * (storage or net) before it sets up, until PATH exists (at most 120 s),
 * so that tests can keep a domain "starting" for as long as they need,
 * deterministically. Unset (always, outside tests): no effect. */
#ifndef VOS_DOMAIN_START_GATE_H
#define VOS_DOMAIN_START_GATE_H

void vos_start_gate(const char *role);

#endif
