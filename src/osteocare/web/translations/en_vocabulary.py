"""English display names of the ids shown from data (sites, categories, reactions ...) whose id is not already
the English word: ``lumbar_spine`` is shown as "lumbar spine". The Vietnamese names are in ``vi_source.py``."""

EN_VOCABULARY: dict[str, str] = {
    "femoral_neck": "femoral neck", "total_hip": "total hip", "lumbar_spine": "lumbar spine",
    "radius_33": "radius (33%)", "tibia_fibula": "tibia/fibula", "femur_other": "femur (other)",
    "low_bone_mass": "low bone mass", "severe_osteoporosis": "severe osteoporosis",
    "first_line": "first line", "must_not": "must not", "fix_first": "fix first",
    "vitamin_d_25oh": "25(OH) vitamin D", "vitamin_d": "vitamin D", "zoledronic_acid": "zoledronic acid",
    "muscle_aches": "muscle aches", "joint_pain": "joint pain", "acute_phase_reaction": "acute-phase reaction",
    "injection_site_reaction": "injection-site reaction", "digestive_irritation": "digestive irritation",
    "orthostatic_hypotension": "orthostatic hypotension", "resolved_with_sequelae": "resolved with sequelae",
    "vertebral_fracture": "vertebral fracture", "no_vertebral_fracture": "no vertebral fracture",
    "significant_decrease": "significant decrease", "significant_increase": "significant increase",
    "no_significant_change": "no significant change",
    "ok": "OK", "not_ok": "not OK", "to_review": "to review", "not_configured": "not configured",
}
